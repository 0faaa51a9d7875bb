"""The developer stack: the product on one machine, never deployed.

- :mod:`~etl_devstack.local`: ``etl up``, the local stack (the Lambda handlers behind an API
  Gateway adapter, the local object store, run workers, the built web app), and ``etl validate``;
- :mod:`~etl_devstack.sessions`: ``etl sessions``, a local Glue interactive-sessions endpoint,
  and ``etl session-config``.

Its distribution (devstack/pyproject.toml) adds these commands to ``etl`` through the
``etl_lib.commands`` entry points; ``etl_lib`` never imports this package.
"""
