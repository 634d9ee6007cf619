"""Digit Lab: draw a digit, watch a CNN read it.  Run with ``streamlit run app.py``.

This file is the frame every page shares (page set-up, navigation, the sidebar's model picker)
and the home page itself, the Draw page. The diagnostics pages live in ``pages/``.
"""
from __future__ import annotations

import streamlit as st

from pages.common_frame import fold_sidebar_on_tablets, mark_framed, style
from pages.common_language import _, language_picker, set_language
from pages.common_models import model_picker

# The sidebar starts folded on phones (Streamlit's "auto") and on touch tablets
# (fold_sidebar_on_tablets).
# No page_title here: it would override every page's own title in the browser's tab.
st.set_page_config(page_icon=":material/draw:", layout="wide", initial_sidebar_state="auto")

# ?lang=xx, else the browser's Accept-Language, else English: decided first, so every title is in it.
set_language()
PAGES = [
    st.Page("pages/draw.py", title=_("Draw a digit"), icon=":material/draw:", default=True),
    st.Page("pages/training.py", title=_("Training curves"), icon=":material/show_chart:", url_path="training"),
    st.Page("pages/confusion.py", title=_("Confusion matrix"), icon=":material/grid_on:", url_path="confusion"),
    st.Page("pages/mistakes.py", title=_("Misclassified"), icon=":material/search:", url_path="mistakes"),
    st.Page("pages/models.py", title=_("Models"), icon=":material/account_tree:", url_path="models"),
    st.Page("pages/inside.py", title=_("Inside the network"), icon=":material/neurology:", url_path="inside"),
    st.Page("pages/push.py", title=_("Push it"), icon=":material/open_with:", url_path="push"),
    st.Page("pages/train.py", title=_("Train"), icon=":material/model_training:", url_path="train"),
    st.Page("pages/class.py", title=_("Our class"), icon=":material/groups:", url_path="class"),
]

navigation = st.navigation(PAGES)
mark_framed()
language_picker()
model_picker()
fold_sidebar_on_tablets()
style("app.css")
navigation.run()
