"""``python -m gateway.admin``: register gateway clients (gateway/admin/clients.py)."""
import sys

from gateway.admin.clients import main

sys.exit(main())
