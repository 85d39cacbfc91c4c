# Sourced by the scripts: puts the project's tools first on PATH so that
# cargo-leptos finds them instead of trying to download its own.
export PATH="$PWD/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"
