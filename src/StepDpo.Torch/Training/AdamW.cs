using System.Globalization;
using StepDpo.Torch.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace StepDpo.Torch.Training;

/// <summary>
/// AdamW with decoupled weight decay (Loshchilov and Hutter; PyTorch's update order), kept in fp32 whatever the weight
/// dtype: for bf16 weights it holds fp32 master weights, applies the update there and copies the rounded result into the
/// model, so small updates (lr 5e-7 against weights ~1e-2) are not lost to bf16 rounding. Weight decay applies to
/// matrices only (dim >= 2), not to biases and norm scales, as Hugging Face's trainer does.
/// Its whole state (step, master weights, moments) saves and loads bit-exactly for resumption.
/// </summary>
public sealed class AdamW : IDisposable
{
    sealed class Slot(string name, Parameter parameter, Tensor master, Tensor m, Tensor v)
    {
        public string Name = name; public Parameter Parameter = parameter; public Tensor Master = master; public Tensor M = m; public Tensor V = v;
        public bool OwnsMaster => !ReferenceEquals(Master, Parameter);
    }

    readonly List<Slot> slots = [];
    readonly double beta1, beta2, eps, weightDecay;
    public int StepCount { get; private set; }

    public AdamW(IEnumerable<(string Name, Parameter Parameter)> parameters, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weightDecay = 0)
    {
        (this.beta1, this.beta2, this.eps, this.weightDecay) = (beta1, beta2, eps, weightDecay);
        using var _ = no_grad();
        foreach (var (name, p) in parameters)
        {
            Tensor master = p.dtype == ScalarType.Float32 ? p : p.detach().to(ScalarType.Float32).DetachFromDisposeScope();
            slots.Add(new Slot(name, p, master, zeros_like(master).DetachFromDisposeScope(), zeros_like(master).DetachFromDisposeScope()));
        }
    }

    public IEnumerable<Parameter> Parameters => slots.Select(s => s.Parameter);

    public void ZeroGrad() { foreach (var s in slots) s.Parameter.grad = null; }

    /// <summary>L2 norm of all gradients together, in fp32 (NaN or inf when any gradient is).</summary>
    public double GradNorm()
    {
        using var scope = NewDisposeScope();
        if (slots.Count == 0) return 0;
        var total = zeros(1, ScalarType.Float32, device: slots[0].Parameter.device); // summed where the gradients are
        foreach (var s in slots)
        {
            // One tensor's fp32 temporaries at a time: in the outer scope they would pile up to 8 bytes per parameter.
            using var perTensor = NewDisposeScope();
            if (s.Parameter.grad is Tensor g) total.add_(g.to(ScalarType.Float32).pow(2).sum());
        }
        return Math.Sqrt(total.item<float>());
    }

    /// <summary>Scales every gradient by <paramref name="factor"/> (clipping).</summary>
    public void ScaleGrads(double factor)
    {
        using var _ = no_grad();
        using var f = factor.ToScalar();
        foreach (var s in slots) s.Parameter.grad?.mul_(f);
    }

    public void Step(double lr)
    {
        StepCount++;
        double bc1 = 1 - Math.Pow(beta1, StepCount), bc2 = 1 - Math.Pow(beta2, StepCount);
        using var _ = no_grad();
        // Scalars owned by this call (see Model/Ops.cs for why implicit temporaries are avoided on hot paths).
        using var b1 = beta1.ToScalar();
        using var oneMinusB1 = (1 - beta1).ToScalar();
        using var b2 = beta2.ToScalar();
        using var oneMinusB2 = (1 - beta2).ToScalar();
        using var decay = (1 - lr * weightDecay).ToScalar();
        using var sqrtBc2 = Math.Sqrt(bc2).ToScalar();
        using var epsilon = eps.ToScalar();
        using var stepSize = (-lr / bc1).ToScalar();
        foreach (var s in slots)
        {
            if (s.Parameter.grad is not Tensor grad) continue;
            using var scope = NewDisposeScope();
            var g = grad.to(ScalarType.Float32);
            s.M.mul_(b1).add_(g, oneMinusB1);
            s.V.mul_(b2).addcmul_(g, g, oneMinusB2);
            if (weightDecay > 0 && s.Master.dim() >= 2) s.Master.mul_(decay);
            var denom = s.V.sqrt().div_(sqrtBc2).add_(epsilon);
            s.Master.addcdiv_(s.M, denom, stepSize);
            if (s.OwnsMaster) s.Parameter.copy_(s.Master);
        }
    }

    const string StateFormat = "stepdpo-adamw/2";
    static readonly string[] StateNames = ["master", "exp_avg", "exp_avg_sq"];

    /// <summary>
    /// Writes the whole state as one safetensors file: per parameter NAME the fp32 tensors NAME.master, NAME.exp_avg and
    /// NAME.exp_avg_sq (PyTorch's names for the moments), the step in the header's metadata. Streamed a chunk at a time,
    /// so any size saves (a 7B full fine-tune holds 2.2 GB fp32 tensors), and Python's safetensors can open it.
    /// </summary>
    public void Save(string path)
    {
        var tensors = slots.SelectMany(s => StateNames.Zip(new[] { s.Master, s.M, s.V }, (kind, t) => ($"{s.Name}.{kind}", t))).ToList();
        SafeTensorsWriter.Write(path, tensors, ScalarType.Float32,
            new Dictionary<string, string> { ["stepdpo_format"] = StateFormat, ["step"] = StepCount.ToString(CultureInfo.InvariantCulture) });
    }

    /// <summary>Restores the state saved by <see cref="Save"/> (streamed into the existing tensors) and copies the master
    /// weights into the model. A file of other parameters or shapes is an error that names the tensor.</summary>
    public void Load(string path)
    {
        using var reader = new SafeTensorsReader(path);
        if (reader.Metadata.GetValueOrDefault("stepdpo_format") != StateFormat
            || !int.TryParse(reader.Metadata.GetValueOrDefault("step"), CultureInfo.InvariantCulture, out int step))
            throw new InvalidDataException($"{path}: not an AdamW state file ({StateFormat})");
        var expected = slots.SelectMany(s => StateNames.Select(kind => $"{s.Name}.{kind}")).ToHashSet();
        if (reader.Entries.Keys.FirstOrDefault(k => !expected.Contains(k)) is { } extra)
            throw new InvalidDataException($"{path}: tensor '{extra}' belongs to no trainable parameter of this model");
        using var _ = no_grad();
        foreach (var s in slots)
        {
            foreach (var (kind, t) in StateNames.Zip(new[] { s.Master, s.M, s.V }))
            {
                string name = $"{s.Name}.{kind}";
                if (!reader.Entries.ContainsKey(name)) throw new InvalidDataException($"{path}: tensor '{name}' is missing");
                try { reader.ReadInto(name, t); }
                catch (StepDpo.Core.StepDpoException e) { throw new InvalidDataException(e.Message, e); }
            }
            if (s.OwnsMaster) s.Parameter.copy_(s.Master);
        }
        StepCount = step;
    }

    public void Dispose()
    {
        foreach (var s in slots) { if (s.OwnsMaster) s.Master.Dispose(); s.M.Dispose(); s.V.Dispose(); }
        slots.Clear();
    }
}
