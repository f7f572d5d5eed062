"""The home page (app.py declares it as the default page, url path "home")."""

import streamlit as st

import ui.page
from ui import nav

ui.page.setup("home", "Embedding Explorer")
st.markdown(
    """
`torch.nn.Embedding(V, D)` is a table: **one row of D numbers for each of the V tokens**, filled at random
to begin with. Looking a token up returns its row, exactly `one_hot(token) @ W`, with no activation and no bias.
Training changes the rows: the loss's gradient reaches **only the rows that were looked up** in the batch
(unless the output head is tied to the table, as in GPT-2: then a full softmax gives every row one, negative
sampling the rows it drew), and then the optimizer
decides how far each row moves (Adam, momentum and weight decay also move rows that got no gradient).

Choose a table and an optimizer in the sidebar, then start with **Train**:
"""
)
nav.links()
st.caption(
    "Every setting is in the address bar: share the link and every screen trains the same run "
    "(a text of your own is not part of the link)."
)
