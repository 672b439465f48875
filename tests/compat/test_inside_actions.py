"""The client inside a nodejs action, configured only by the runtime's environment.

``openwhisk()`` with no options reads ``__OW_API_HOST``, ``__OW_API_KEY`` (present with the
``provide-api-key`` annotation) and ``__OW_NAMESPACE``, the way actions use it on OpenWhisk.
The action bundles the client in its zip, as users do when the runtime lacks it.
"""

from __future__ import annotations

import base64
import io
import zipfile
from pathlib import Path

from tests.compat.conftest import NodeClient, node_modules

CALLER = """
const openwhisk = require('openwhisk')
exports.main = async p => {
  const ow = openwhisk()
  const inner = await ow.actions.invoke({name: p.target, blocking: true, result: true,
                                        params: {name: 'inside'}})
  const missing = await ow.actions.get(p.target + '-missing').catch(e => e.statusCode)
  return {inner, missing, namespace: process.env.__OW_NAMESPACE}
}
"""
HELLO = "function main(p) { return {greeting: 'Hello ' + p.name} }"


def bundle(modules: Path) -> str:
    """A base64 zip of the caller and the installed client with its dependencies."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("package.json", '{"main": "index.js"}')
        zf.writestr("index.js", CALLER)
        for path in sorted(modules.rglob("*")):
            if path.is_file():
                zf.write(path, f"node_modules/{path.relative_to(modules)}")
    return base64.b64encode(buf.getvalue()).decode()


def test_action_uses_the_client_with_its_environment(ow: NodeClient, name: str) -> None:
    out = ow.run("""
        await ow.actions.create({name: A.name + '-hello', action: A.hello})
        await ow.actions.create({name: A.name, kind: 'nodejs:20',
                                 action: Buffer.from(A.zip, 'base64'),
                                 annotations: {'provide-api-key': true}})
        return ow.actions.invoke({
            name: A.name, blocking: true, result: true, params: {target: A.name + '-hello'}})
    """, name=name, hello=HELLO, zip=bundle(node_modules()))
    assert out == {"inner": {"greeting": "Hello inside"}, "missing": 404, "namespace": "guest"}
