#!/usr/bin/env bash
# The long fault runs kept out of the default suite (#[ignore]): RabbitMQ killed three times
# under 5,000 tasks, and whatever else is marked ignored. Needs the services (scripts/services.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/services.sh
cargo test --workspace --release -- --ignored --nocapture
