"""A loopback SMTP sink for benchmarks: accepts every message, keeps nothing, and counts them.
Usage: python3 scripts/smtp-sink.py PORT COUNT_FILE  (writes the count on SIGTERM)."""
import asyncore
import signal
import smtpd
import sys
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)


class Sink(smtpd.SMTPServer):
    received = 0

    def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):
        Sink.received += 1


def stop(*_):
    with open(sys.argv[2], "w") as out:
        out.write(str(Sink.received))
    sys.exit(0)


signal.signal(signal.SIGTERM, stop)
Sink(("127.0.0.1", int(sys.argv[1])), None, decode_data=False)
asyncore.loop()
