"""Golden files shared by the Python and the browser tests."""
