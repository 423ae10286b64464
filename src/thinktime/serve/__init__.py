"""OpenAI-compatible reasoning server: `thinktime serve` (schemas.py, app.py, metrics.py)."""
