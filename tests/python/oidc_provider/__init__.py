"""A small, real OpenID provider for Gantry's sign-on tests, built on Authlib and Flask.

See server.py (its module docstring lists the endpoints, the defaults and the /_test/ controls).
Run it as `python tests/python/oidc_provider/server.py --port 0` or
`python -m tests.python.oidc_provider.server --port 0` from the repository root.
"""
