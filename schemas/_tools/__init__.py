"""Tooling around the wire contract, not the contract itself: fixed samples, test vectors,
refusal cases, the AsyncAPI document and the generator that writes them all to disk.

It is private (``_tools``) and sits beside the contract rather than in it: the contract
modules never import it, so a producer or verifier that imports ``intentcast.schemas``
loads only the rules of the wire, and the tools may change without touching them
(``tests/schemas/test_tools_apart.py``). Run the generator with
``python -m intentcast.schemas._tools.generate`` (``make generate``).
"""
