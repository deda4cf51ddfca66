"""Instrumented ``multiprocessing`` primitives (Process, Lock, Queue, Pool, ...): the place
for the process catalog (P1-P8). Empty for now; they build on ``emit`` like the thread ones."""
