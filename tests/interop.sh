#!/bin/sh
# Interoperability suite: the official NATS JavaScript clients against jetgate's data.
exec "$(dirname "$0")/run-node-tests.sh" interop
