namespace StepDpo.Text.Tests;

/// <summary>Expected strings are written out in full, as in the reference implementation's scripts.</summary>
public class PromptTemplatesTests
{
    const string Problem = "What is $1+1$?";
    const string AlpacaHead = "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\nWhat is $1+1$?\n\n### Response:";
    const string DeepSeekHead = "User: What is $1+1$?\nPlease reason step by step, and put your final answer within \\boxed{}.\n\nAssistant:";
    const string QwenHead = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nWhat is $1+1$?\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n<|im_start|>assistant\n";

    [Theory]
    [InlineData("alpaca", AlpacaHead + " Let's think step by step.")]
    [InlineData("deepseek-math", DeepSeekHead)]
    [InlineData("qwen2-boxed", QwenHead)]
    [InlineData("plain", "What is $1+1$?\n")]
    [InlineData("alpaca-step", AlpacaHead + "\nLet's think step by step.\nStep 1: ")]
    [InlineData("deepseek-math-step", DeepSeekHead + " Let's think step by step.\nStep 1: ")]
    [InlineData("qwen2-boxed-step", QwenHead + "Let's think step by step.\nStep 1: ")]
    [InlineData("plain-step", "What is $1+1$?\nLet's think step by step.\nStep 1: ")]
    public void Render_gives_the_reference_strings(string template, string expected)
    {
        Assert.Equal(expected, PromptTemplates.Render(template, Problem));
    }

    [Theory]
    [InlineData("alpaca", AlpacaHead + "\nLet's think step by step.\nStep 1: ")]
    [InlineData("qwen2-boxed-prefix", QwenHead + "Let's think step by step.\nStep 1: ")]
    public void RenderStep_accepts_any_name_of_the_family(string template, string expected)
    {
        Assert.Equal(expected, PromptTemplates.RenderStep(template, Problem));
    }

    [Theory]
    [InlineData("alpaca-prefix", AlpacaHead + "\nLet's think step by step.\nStep 1: 1+1=2.\nStep 2:")]
    [InlineData("deepseek-math-prefix", DeepSeekHead + " Let's think step by step.\nStep 1: 1+1=2.\nStep 2:")]
    [InlineData("qwen2-boxed-prefix", QwenHead + "Let's think step by step.\nStep 1: 1+1=2.\nStep 2:")]
    [InlineData("plain-prefix", "What is $1+1$?\nLet's think step by step.\nStep 1: 1+1=2.\nStep 2:")]
    public void RenderWithPrefix_ends_with_the_prefix_and_never_repeats_the_opening(string template, string expected)
    {
        Assert.Equal(expected, PromptTemplates.RenderWithPrefix(template, Problem, "Step 1: 1+1=2.\nStep 2:"));
        Assert.Equal(expected, PromptTemplates.RenderWithPrefix(template, Problem, "Let's think step by step.\nStep 1: 1+1=2.\nStep 2:"));
    }

    [Theory]
    [InlineData("alpaca", AlpacaHead + "\nLet's think step by step.\nStep 1: 1+1=2.\nStep 2:")]
    [InlineData("deepseek-math", DeepSeekHead + " Let's think step by step.\nStep 1: 1+1=2.\nStep 2:")]
    [InlineData("qwen2-boxed", QwenHead + "Let's think step by step.\nStep 1: 1+1=2.\nStep 2:")]
    [InlineData("plain", "What is $1+1$?\nLet's think step by step.\nStep 1: 1+1=2.\nStep 2:")]
    public void TrainingCondition_concatenates_as_the_reference_trainer(string template, string expected)
    {
        Assert.Equal(expected, PromptTemplates.TrainingCondition(template, Problem, "Let's think step by step.\nStep 1: 1+1=2.\nStep 2:"));
    }

    [Theory]
    [InlineData("alpaca", AlpacaHead)]
    [InlineData("deepseek-math", DeepSeekHead)]
    [InlineData("qwen2-boxed", QwenHead)]
    public void TrainingCondition_without_steps_is_the_bare_training_prompt(string template, string expected)
    {
        Assert.Equal(expected, PromptTemplates.TrainingCondition(template, Problem, ""));
        Assert.Equal(expected, PromptTemplates.RenderTrainingPrompt(template, Problem));
    }

    [Fact]
    public void Unknown_template_lists_the_valid_names()
    {
        var e = Assert.Throws<StepDpo.Core.StepDpoException>(() => PromptTemplates.Render("qwen2", Problem));
        Assert.Contains("unknown prompt template 'qwen2'", e.Message);
        foreach (var name in PromptTemplates.Names) Assert.Contains(name, e.Message);
        Assert.Equal(12, PromptTemplates.Names.Count);
    }

    [Fact]
    public void Prefix_template_without_prefix_is_rejected()
    {
        Assert.Throws<ArgumentException>(() => PromptTemplates.Render("alpaca-prefix", Problem));
    }

    [Fact]
    public void Qwen_chat_markers_in_the_prompt_become_single_special_tokens()
    {
        var ids = Fixtures.Qwen.Encode(PromptTemplates.Render("qwen2-boxed", Problem));
        Assert.Equal(3, ids.Count(id => id == 151644));
        Assert.Equal(2, ids.Count(id => id == 151645));
        Assert.Equal(151644, ids[0]);
    }
}
