using StepDpo.Answers.Expressions;

namespace StepDpo.Answers.Structures;

/// <summary>The shape of an answer after parsing: what decides how two answers are compared.</summary>
internal abstract record AnswerValue;

/// <summary>A single mathematical expression (number, expression in variables, infinity).</summary>
internal sealed record ScalarValue(string Text, Expr Expr) : AnswerValue;
/// <summary>Words, or anything that is not mathematics we can parse; compared case-insensitively.</summary>
internal sealed record TextValue(string Text) : AnswerValue;
/// <summary>Ordered: tuples, points, intervals. The brackets count: (1,2] is not [1,2].</summary>
internal sealed record TupleValue(char Open, char Close, IReadOnlyList<AnswerValue> Items) : AnswerValue;
/// <summary>Order-free: sets, lists of solutions, ± pairs.</summary>
internal sealed record SetValue(IReadOnlyList<AnswerValue> Items) : AnswerValue;
/// <summary>A union of intervals, order-free.</summary>
internal sealed record UnionValue(IReadOnlyList<AnswerValue> Parts) : AnswerValue;
internal sealed record MatrixValue(IReadOnlyList<IReadOnlyList<AnswerValue>> Rows) : AnswerValue;
/// <summary>"lhs = rhs" (also "x = 3", where the comparison may use the right side alone).</summary>
internal sealed record EquationValue(string LeftText, AnswerValue Left, AnswerValue Right) : AnswerValue;
/// <summary>A numeral with a base subscript, "52_8", "1011_{2}", "A3_{16}".</summary>
internal sealed record BaseNumberValue(string Digits, int Base) : AnswerValue;
/// <summary>A multiple-choice letter, "(C)".</summary>
internal sealed record ChoiceValue(char Letter) : AnswerValue;
