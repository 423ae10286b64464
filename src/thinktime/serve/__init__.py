"""OpenAI-compatible reasoning server: `thinktime serve` (app.py wires admission.py, routes.py,
chat.py and stream.py around a `Service`; schemas.py, intake.py, policy.py, metrics.py)."""
