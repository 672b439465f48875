"""The ``pwsk`` command line (``pwsk.cli.main:main``), a work-alike of OpenWhisk's ``wsk``.

One module per command group (``actions``, ``activations``, ``apis``, ``packages``, ``rules``,
``triggers``, ``namespaces``, ``properties``, ``sdk`` with ``completion``, ``project``,
``standalone``); ``common`` holds global flags, errors and printing, ``config`` the
``~/.wskprops`` file, ``params`` request-body building and ``output`` wsk's tables.
"""
