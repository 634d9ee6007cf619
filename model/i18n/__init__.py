"""The app's languages: gettext catalogs (locales/<lang>/LC_MESSAGES/digitlab.po) through Babel,
the choice of language from a request, and numbers in the language's format. No Streamlit."""


def N_(message: str) -> str:
    """Marks a constant for the catalog (pybabel extract, keyword N_): a label written in model/
    is translated where a page shows it."""
    return message
