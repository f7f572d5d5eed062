"""Streamlit widgets shared by pages: each owns its session-state keys (declared in ui/session.py)."""
