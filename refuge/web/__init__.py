"""The web desk: a local web page over the same library calls as the command line.

``refuge serve`` (serve.py) starts it on 127.0.0.1, acting as the person who
started it; app.py makes the Starlette application; _security.py the rules
every request meets (Host, Origin, session cookie, CSRF, CSP, no-store);
_desk.py the session and the idle lock; _lawyer.py and _lead.py the pages;
_upload.py streams uploads to a private folder; _preview.py draws pages in the
keyless worker; _i18n.py holds the page's words in en, es and fr. Nothing here
is imported by the command line until ``refuge serve`` runs.
"""
