"""Metaplastic quantised networks on multi-level memristors (D'Agostino et al., AICAS 2023).

Modules (imported on demand; this package imports nothing heavy by itself):

* ``rule``: f_meta = 1 - tanh^2(m W_h) attenuation, ``WeightQuantizer`` (k levels, 2 =
  binarised), ``MetaplasticAdam`` / ``MetaplasticSGD``, fixed-point hidden-weight storage.
* ``devices``: ``DeviceArray`` of multi-level RRAM (levels set by the compliance I_C, D2D / C2C /
  read noise, write-verify, endurance counters), ``proportional_levels``.
* ``network``: ``TrainConfig``, ``Task``, ``train_sequential`` (software or device-aware).
* ``experiment``: ``ExperimentConfig``, ``run_sequential_experiment`` (tidy table),
  ``write_csv``, ``memory_footprint``, ``footprint_ratio``.
* ``spice_check``: a programmed layer slice as a crossbar netlist, ngspice vs G @ V.
* ``study``: ``StudyConfig``, ``run_study`` (the experiment, its SPICE check, results.csv and
  run.json), ``footprints`` (same-architecture memory of the binarised and quantised variants);
  the command is ``rramcosim experiment metaplastic``.
"""
