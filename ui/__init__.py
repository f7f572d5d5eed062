"""Embedding Explorer's Streamlit glue, one concern a module: session state, links, the step loop, display mode,
page setup, navigation, figures and widgets."""
