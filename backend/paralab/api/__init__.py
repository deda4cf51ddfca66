"""HTTP and WebSocket controllers: translate requests to service calls and back, nothing else."""
