"""The script Streamlit runs on every visit and every click: it draws the view the user chose."""

from __future__ import annotations

import streamlit as st

from simservice.web import views


def main() -> None:
    """Every view as a page of its own, at its own address (``/planner``, ``/finance``)."""
    st.set_page_config(page_title="simservice", page_icon=":material/child_care:", layout="wide")
    pages = [st.Page(view.render, title=view.TITLE, icon=view.ICON, url_path=view.PAGE) for view in views.pages()]
    st.navigation(pages, position="top").run()


if __name__ == "__main__":  # Streamlit runs this file as the main script
    main()
