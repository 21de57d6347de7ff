using StepDpo.Torch.Checkpoints;
using StepDpo.Torch.Model;
using StepDpo.Torch.Training;
using static TorchSharp.torch;

namespace StepDpo.Torch.Tests.Training;

/// <summary>The memory plan's counts against the real modules; its estimates against measured peaks are in the `memory`
/// benchmark (tests/StepDpo.Bench), not here.</summary>
public class MemoryPlanTests
{
    [Theory]
    [InlineData("qwen2", "tiny")]
    [InlineData("llama", "small")]
    public void Parameter_counts_equal_the_models_and_the_adapters(string arch, string preset)
    {
        var config = Presets.Create(arch, preset, 300);
        using var model = new CausalLM(config, ScalarType.BFloat16);
        var plan = new MemoryPlan(config, ScalarType.BFloat16);
        Assert.Equal(model.parameters().Sum(p => p.numel()), plan.Parameters);

        var lora = new LoraOptions { Rank = 3, TargetModules = ["q_proj", "v_proj", "down_proj"] };
        using var adapters = new LoraAdapters(model, lora, seed: 1);
        Assert.Equal(adapters.Parameters.Sum(p => p.Parameter.numel()), plan.LoraParameters(lora));
    }

    [Fact]
    public void Full_bf16_fine_tuning_costs_16_bytes_per_parameter_and_lora_pays_them_for_its_adapters_only()
    {
        var config = Presets.Create("qwen2", "small", 32000);
        var plan = new MemoryPlan(config, ScalarType.BFloat16);
        var shape = MicroBatchShape.StepDpo(2, 256, sharedPrefix: true);
        var full = plan.Training(shape, accumulation: 2, checkpointing: false, lora: null);
        Assert.Equal(16 * plan.Parameters, full.Weights + full.Gradients + full.OptimizerStates);
        var lora = new LoraOptions { Rank = 8, TargetModules = ["q_proj", "k_proj", "v_proj", "o_proj"] };
        var adapted = plan.Training(shape, accumulation: 2, checkpointing: false, lora);
        Assert.Equal(2 * plan.Parameters + 16 * plan.LoraParameters(lora), adapted.Weights + adapted.Gradients + adapted.OptimizerStates);

        var fp32 = new MemoryPlan(config, ScalarType.Float32).Training(shape, 2, false, null);
        Assert.Equal(16 * plan.Parameters, fp32.Weights + fp32.Gradients + fp32.OptimizerStates); // 4 + 4 + 8: no master copy
    }

    [Fact]
    public void Checkpointing_and_smaller_micro_batches_need_less_and_the_fit_takes_the_largest_micro_batch_that_fits()
    {
        var plan = new MemoryPlan(Presets.Create("llama", "small", 32000), ScalarType.BFloat16);
        MicroBatchShape Shape(int pairs) => MicroBatchShape.StepDpo(pairs, 512, sharedPrefix: true);
        long plain = plan.Training(Shape(4), 1, false, null).Total, checkpointed = plan.Training(Shape(4), 1, true, null).Total;
        Assert.True(checkpointed < plain);
        Assert.True(plan.Training(Shape(2), 1, false, null).Total < plain);

        long budget = plan.Training(Shape(4), 4, false, null).Total;
        var fit = plan.FitBatch(16, Shape, budget, checkpointing: false, lora: null);
        Assert.Equal((4, 4), (fit!.Value.MicroBatch, fit.Value.Accumulation));
        Assert.True(plan.Training(Shape(8), 2, false, null).Total > budget); // the next divisor up does not fit
        Assert.Null(plan.FitBatch(16, Shape, budget: plan.Parameters, checkpointing: true, lora: null));
    }
}
