"""The trained convolutional front end of the reference system.

Modules and entry points:

* ``config``: ``TrainConfig`` (filters, CF/FF split, bits, epochs), ``HardwareConfig`` (I_C
  range, V_STOP, wires, V_REF calibration), ``VrefMatch``.
* ``train``: ``train_frontend(images, labels, TrainConfig) -> TrainedFrontEnd`` (float weights,
  quantised levels and scales, V_REF), ``requantize`` (post-training quantisation to other bits).
* ``hardware``: ``program_frontend(front, calibration_images, HardwareConfig) ->
  ProgrammedFrontEnd`` (compact-model programming, fast-engine read-out, V_REF in amperes).
* ``evaluate``: ``evaluate_frontend`` -> tidy accuracy rows of the float / quantised /
  programmed variants (class-filter decision and logistic readout on the feature bits).
* ``sweeps``: accuracy vs bits per weight and vs I_C range / V_STOP (rows; sweep tasks).
* ``io``: ``save_frontend`` / ``load_frontend``; ``experiment``: ``run_experiment``.

Submodules are imported on use (torch training code stays out of lighter imports).
"""
