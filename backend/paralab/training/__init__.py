"""Training, evaluation and export of ParaLab's two shipped models.

Importing this package does not import TensorFlow; the modules that need it do.
"""
