"""TensorFlow's declaration (bench.framework). Imports no TensorFlow.

Its default mode is what Keras 3's `Model.fit` does with its defaults: the train step runs
as a `tf.function` (`run_eagerly=False`), and `jit_compile="auto"` is resolved by
`Trainer._resolve_auto_jit_compile` (keras/src/trainers/trainer.py): XLA off where
TensorFlow sees no device but CPUs, on where a GPU is present and the model supports it. A
job on the GPU therefore trains in XLA as used, a job on the CPU in a plain tf.function.
"""

from bench.framework import EAGER, Framework, Mode

FRAMEWORK = Framework(
    name="tf",
    module="tensorflow",
    install="pip install 'gan-bench[tf]'",
    colour="#0072b2",
    modes=(Mode(EAGER, "eager"), Mode("compiled", "tf.function"),
           Mode("xla", "tf.function(jit_compile=True)")),
    default_mode="compiled",
    device_default_modes={"cuda": "xla"},
    default_mode_source=("Keras 3 Model.fit: a tf.function train step; jit_compile='auto' "
                         "turns XLA on only where a GPU is present "
                         "(Trainer._resolve_auto_jit_compile)"),
    order=1,
    packages=("tensorflow", "keras"),
)
