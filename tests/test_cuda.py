"""The same results on a CUDA GPU as on the CPU (skipped where there is no GPU)."""

import pytest
import torch

from cwrnn import GRU, LSTM, ClockworkRNN, matched_specs
from cwrnn.data.audio import synthetic_tone
from cwrnn.tasks.generation import GenerationTask
from cwrnn.train import TrainConfig, train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")


@pytest.mark.parametrize("periods", [[1, 2, 4, 8], [1, 3, 5, 7]])
def test_forward_and_gradients_match_cpu(periods):
    cpu = ClockworkRNN(3, module_sizes=[4, 3, 3, 2], periods=periods, num_seeds=2).double()
    gpu = ClockworkRNN(3, module_sizes=[4, 3, 3, 2], periods=periods, num_seeds=2).double().cuda()
    x = torch.randn(2, 5, 30, 3, dtype=torch.float64)
    a, _ = cpu(x)
    b, _ = gpu(x.cuda())
    torch.testing.assert_close(b.cpu(), a)
    a.sum().backward()
    b.sum().backward()
    torch.testing.assert_close(gpu.W_H.grad.cpu(), cpu.W_H.grad)


@pytest.mark.parametrize("make", [lambda: LSTM(3, 5, num_seeds=2), lambda: GRU(3, 5, num_seeds=2)])
def test_gated_baselines_match_cpu(make):
    cpu, gpu = make().double(), make().double().cuda()
    x = torch.randn(2, 4, 20, 3, dtype=torch.float64)
    a, b = cpu(x)[0], gpu(x.cuda())[0]
    torch.testing.assert_close(b.cpu(), a)
    a.pow(2).sum().backward()
    b.pow(2).sum().backward()
    for (name, p), q in zip(cpu.named_parameters(), gpu.parameters()):
        torch.testing.assert_close(q.grad.cpu(), p.grad, msg=name)


def test_training_runs_on_cuda_and_agrees_with_cpu():
    specs = matched_specs(150, 0, 1, periods=[1, 2, 4, 8], baselines=("srn", "lstm", "gru"))
    runs = {}
    for device in ("cpu", "cuda"):
        result = train(
            GenerationTask([synthetic_tone(64)], num_seeds=2), specs, [0, 1], TrainConfig(epochs=20, device=device)
        )
        assert result.device.startswith(device) and result.outcome == "completed"
        runs[device] = result.final
    for arch in runs["cpu"]:
        torch.testing.assert_close(
            torch.tensor(runs["cuda"][arch]["nmse"]), torch.tensor(runs["cpu"][arch]["nmse"]), rtol=1e-3, atol=1e-5
        )
