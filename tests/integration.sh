#!/bin/sh
# Integration suite: real nats-server and jetgate, driven over HTTP.
exec "$(dirname "$0")/run-node-tests.sh" integration
