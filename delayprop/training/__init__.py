"""EventProp training of spiking networks with learnable delays (mlGeNN-style API)."""
from delayprop.training.augment import ChannelShift, Compose, TimeShift
from delayprop.training.callbacks import Callback, CSVLogger, ProgressBar
from delayprop.training.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from delayprop.training.compiled_network import CompiledTrainingNetwork
from delayprop.training.compiler import EventPropCompiler
from delayprop.training.connectivity import Dense, FixedProbability, FromList
from delayprop.training.initializers import Constant, Normal, Uniform
from delayprop.training.losses import SoftmaxCrossEntropy, SparseCategoricalCrossentropy
from delayprop.training.network import Connection, Network, Population
from delayprop.training.neurons import (GradedInput, LeakyIntegrate, LeakyIntegrateFire,
                                        SpikeInput)
from delayprop.training.optimisers import SGD, Adam
from delayprop.training.rewiring import DeepR, Rewiring, RigL
from delayprop.training.schedules import ConstantLR, CosineAnnealing, OneCycle
from delayprop.training.synapses import Exponential

__all__ = [
    "Network", "Population", "Connection", "EventPropCompiler", "CompiledTrainingNetwork",
    "Dense", "FixedProbability", "FromList", "Constant", "Normal", "Uniform",
    "SoftmaxCrossEntropy", "SparseCategoricalCrossentropy", "GradedInput", "SpikeInput",
    "LeakyIntegrate", "LeakyIntegrateFire", "Adam", "SGD", "ConstantLR", "OneCycle",
    "CosineAnnealing", "Exponential", "Callback", "ProgressBar", "CSVLogger", "Checkpoint",
    "save_checkpoint", "load_checkpoint", "Rewiring", "DeepR", "RigL", "ChannelShift",
    "TimeShift", "Compose",
]
