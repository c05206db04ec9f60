"""The web interface: server-rendered pages for the press office and the public.

Pages are Jinja2 templates in ``templates/web/``, filled by plain ``def`` handlers that
call the same service functions as the HTTP API. Every page works without JavaScript;
forms post back and redirect (303), and the session cookie is the API's, so a user signed
in on the web is signed in for the API too. UI strings are English in the templates and
translated through ``workflow.web.i18n``.
"""
