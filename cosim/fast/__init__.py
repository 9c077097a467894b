"""The fast engine: vectorised torch code for the circuits that SPICE simulates.

Same compact model, same circuit descriptions, parameters characterised in ngspice where a
device has no closed form (the access transistor). Its agreement with ngspice is measured by
``cosim.fast.parity`` (``rramcosim parity``) and enforced by the tests.
"""
