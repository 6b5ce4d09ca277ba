"""moto server with every request serialised by one lock (stock moto_server is
threaded and its conditional writes are not atomic under concurrency).

usage: python moto_locked.py [PORT] [--exit-on-stdin-eof]

PORT 0 picks a free port. The bound port is printed as "PORT <n>" on stdout once the
server is listening. With --exit-on-stdin-eof the server exits when its stdin closes,
so a test harness that dies (even by SIGKILL) never leaves an orphan behind.
"""
import os
import sys
import threading

try:
    from werkzeug.serving import make_server
    from moto.moto_server.werkzeug_app import (DomainDispatcherApplication,
                                               MotoRequestHandler, create_backend_app)
except ImportError as e:
    sys.exit(f"moto_locked.py: {e}; {sys.executable} needs moto[server]==5.2.5 "
             "(./scripts/test installs it in .venv-tools)")

args = [a for a in sys.argv[1:] if not a.startswith("--")]
port = int(args[0]) if args else 5000
inner = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()


def app(environ, start_response):
    with lock:                      # one request at a time inside moto
        return list(inner(environ, start_response))


server = make_server("127.0.0.1", port, app, threaded=True, request_handler=MotoRequestHandler)
port = server.server_port
os.environ.setdefault("MOTO_PORT", str(port))

print(f"PORT {port}", flush=True)

if "--exit-on-stdin-eof" in sys.argv:
    def watch_stdin():
        try:
            while sys.stdin.buffer.read(4096):
                pass
        finally:
            os._exit(0)
    threading.Thread(target=watch_stdin, daemon=True).start()

server.serve_forever()
