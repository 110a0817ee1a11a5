"""The launcher: the top layer, and the only code that names every service.

It runs the whole stack (``stack``, copies of a process: ``scale``), one line of the Procfile
(``run``), the ``phr`` command line (``cli``), the migrations of every database (``migrate``),
the services' own OAuth clients (``service_clients``) and the demo seeding (``demo``). Nothing below it imports it
(docs/architecture.md, "Layers").
"""
