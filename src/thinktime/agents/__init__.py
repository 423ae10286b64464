"""Agents: tool-using loops over `solve`, one model call (one strategy run) per step."""
