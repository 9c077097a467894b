"""Netlist intermediate representation, writers (ngspice, VACASK) and the compact model as SPICE/Verilog-A."""
