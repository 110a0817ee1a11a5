"""The launcher: the top layer, and the only code that names every service.

It runs the whole stack (``stack``), the ``phr`` command line (``cli``), the migrations of
every database (``migrate``) and the demo seeding (``demo``). Nothing below it imports it
(docs/architecture.md, "Layers").
"""
