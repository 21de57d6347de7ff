using StepDpo.Stages.Serving;
using StepDpo.Text;

namespace StepDpo.Stages.Tests.Serving;

public class ChatTemplateTests
{
    // Qwen2-Instruct's chat template (tokenizer_config.json), with the newlines as JSON decodes them.
    const string Qwen2 = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    const string Problem = "What is $1+1$?";
    const string Boxed = "\nPlease reason step by step, and put your final answer within \\boxed{}.";

    [Fact]
    public void ChatML_from_Qwen2s_template_is_the_qwen2_boxed_prompt_character_for_character()
    {
        var template = ChatTemplate.FromSource(Qwen2);
        Assert.Equal("chatml", template.Name);
        Assert.Equal(PromptTemplates.RenderTrainingPrompt("qwen2-boxed", Problem), template.Render([new ChatMessage("user", Problem + Boxed)]));
    }

    [Fact]
    public void ChatML_keeps_a_given_system_message_and_reads_an_escaped_default()
    {
        var template = ChatTemplate.FromSource(Qwen2.Replace("\n", "\\n"));
        Assert.Equal("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",
            template.Render([new ChatMessage("user", "hi")]));
        Assert.Equal("<|im_start|>system\nJudge.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",
            template.Render([new ChatMessage("system", "Judge."), new ChatMessage("user", "hi")]));
    }

    [Fact]
    public void Llama3_headers_with_trimmed_content()
    {
        var template = ChatTemplate.FromSource("{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n{{ m['content'] | trim }}<|eot_id|>{% endfor %}");
        Assert.Equal("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
            template.Render([new ChatMessage("user", " hi\n")]));
    }

    [Fact]
    public void A_model_without_a_template_gets_the_plain_prompt_and_an_unknown_one_is_refused()
    {
        using var dir = new TempDir();
        Assert.Same(ChatTemplate.Plain, ChatTemplate.Load(dir.Path));
        Assert.Equal(PromptTemplates.Render("plain", Problem), ChatTemplate.Plain.Render([new ChatMessage("user", Problem)]));

        File.WriteAllText(dir.File("tokenizer_config.json"), """{"chat_template": [{"name": "default", "template": "{{ '[INST] ' + messages[0]['content'] + ' [/INST]' }}"}]}""");
        var unknown = ChatTemplate.Load(dir.Path);
        Assert.Contains("neither ChatML nor Llama 3", Assert.Throws<NotSupportedException>(() => unknown.Render([new ChatMessage("user", "x")])).Message);
    }
}
