"""The Korean catalogues of the web interface (see ``workflow.web.i18n``)."""
