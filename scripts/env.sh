# Sourced by the scripts: puts the project's tools first on PATH: npm's
# wasm-opt (binaryen) before any other (Debian's breaks the bundle), and
# cargo's installs (wasm-bindgen).
export PATH="$PWD/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"
