"""Worker process of the consent service: relays its outbox and sweeps expired consents."""
from __future__ import annotations

import logging
import sys
import threading

from services.common.config import load_settings
from services.common.worker import Worker
from services.consent.adapters.tables import outbox
from services.consent.bootstrap import ConsentService, bootstrap
from services.consent.service_layer import handlers

log = logging.getLogger(__name__)
SWEEP_SECONDS = 30.0


def sweep_forever(consent: ConsentService, stop: threading.Event, every: float = SWEEP_SECONDS) -> None:
    """Expire consents past their end every EVERY seconds until STOP (decisions never wait for it)."""
    while not stop.is_set():
        try:
            expired = handlers.expire_due(consent.uow(), consent.clock())
            if expired:
                log.info("expired %d consent(s)", expired)
        except Exception as exc:  # database away: try again at the next tick
            log.warning("expiry sweep failed: %s", exc)
        stop.wait(every)


def main() -> int:
    """Run the consent worker until a signal."""
    consent = bootstrap(load_settings("consent"))
    worker = Worker(consent.settings, consent.engine, outbox)
    threading.Thread(target=sweep_forever, args=(consent, worker.stop), name="expiry-sweep",
                     daemon=True).start()
    return worker.run()


if __name__ == "__main__":
    sys.exit(main())
