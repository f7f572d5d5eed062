"""Pure Plotly figure builders, one module per page (no Streamlit): each is a function of arrays and labels,
tested on its data. `style` holds what they share: the palette, fonts, title wrapping and legend placement."""
