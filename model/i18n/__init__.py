"""The app's languages: gettext catalogs (locales/<lang>/LC_MESSAGES/digitlab.po) through Babel,
the choice of language from a request, and numbers in the language's format. No Streamlit."""
