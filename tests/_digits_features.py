"""Shared by the torchmetrics comparisons: the digits classifier's features wrapped the way
torchmetrics expects a custom extractor (a module with ``num_features`` mapping images to (n, d)),
in float64 so both implementations see the same numbers."""
from torch import nn


class DigitsFeatures(nn.Module):
    num_features = 64

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net.features(x).double()
