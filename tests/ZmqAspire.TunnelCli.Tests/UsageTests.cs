namespace ZmqAspire.TunnelCli.Tests;

/// <summary>Bad arguments exit 64 (EX_USAGE) before anything connects, each with a message that names the mistake.</summary>
public sealed class UsageTests
{
    private const string Pin = "SHA256:nsfxU0bT/zhn88YlHc1InfpOGl29+e+mhZw+w8jwgfo";

    public static TheoryData<string[], string> Cases => new()
    {
        { ["tunnel@127.0.0.1:1", "tcp://127.0.0.1:5556"], "Give the bastion's host key" },
        { ["tunnel@127.0.0.1:1", "tcp://127.0.0.1:5556", "--host-key", Pin, "--known-hosts", "/dev/null"], "Give --host-key or --known-hosts, not both." },
        { ["tunnel@127.0.0.1:1", "tcp://127.0.0.1:5556", "--host-key", "SHA256:short"], "--host-key: 'SHA256:short' is not a SHA-256 host key fingerprint (expected SHA256: and 43 base64 characters, as 'ssh-keygen -lf' prints)." },
        { ["127.0.0.1:1", "tcp://127.0.0.1:5556", "--host-key", Pin], "'127.0.0.1:1' is not an SSH server: expected user@host[:port]." },
        { ["tunnel@127.0.0.1:1", "tcp://*:5556", "--host-key", Pin], "tcp://*:5556" },
        { ["tunnel@127.0.0.1:1", "tcp://127.0.0.1:5556", "--host-key", Pin, "--local-port", "5557", "--local-port", "5558"], "2 --local-port values for 1 target(s)" },
        { ["tunnel@127.0.0.1:1", "tcp://127.0.0.1:5556", "--host-key", Pin, "--local-port", "70000"], "--local-port 70000: expected a port from 0 to 65535." },
        { ["tunnel@127.0.0.1:1", "tcp://127.0.0.1:5556", "--host-key", Pin, "--bind", "localhost"], "--bind localhost: expected an IP address" },
        { ["tunnel@127.0.0.1:1", "tcp://127.0.0.1:5556", "--host-key", Pin, "--password-env", "ZMQ_TUNNEL_TEST_UNSET"], "--password-env ZMQ_TUNNEL_TEST_UNSET: the environment variable is not set." },
        { ["tunnel@127.0.0.1:1", "tcp://127.0.0.1:5556", "--host-key", Pin, "--ask-passphrase"], "--ask-passphrase needs a terminal on stdin." },
        { ["tunnel@127.0.0.1:1", "tcp://127.0.0.1:5556", "--host-key", Pin, "--"], "nothing follows '--'" },
        { ["tunnel@127.0.0.1:1", "--host-key", Pin], "Required argument 'targets' missing" },
        { ["tunnel@127.0.0.1:1", "tcp://127.0.0.1:5556", "--host-key", Pin, "--password", "secret"], "unknown option '--password'" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Bad_arguments_exit_64_with_the_reason(string[] arguments, string message)
    {
        var run = await TunnelProcess.RunAsync(arguments, TimeSpan.FromSeconds(30));
        Assert.True(run.Process.ExitCode == 64, run.Describe);
        Assert.Contains(message, run.StandardError, StringComparison.Ordinal);
        Assert.Contains("Try 'zmq-tunnel --help'.", run.StandardError, StringComparison.Ordinal);
        // A user's message, not .NET's: no "(Parameter 'name')" of a library method.
        Assert.DoesNotContain("(Parameter '", run.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_documents_every_exit_code_and_exits_0()
    {
        var run = await TunnelProcess.RunAsync(["--help"], TimeSpan.FromSeconds(30));
        Assert.True(run.Process.ExitCode == 0, run.Describe);
        foreach (var code in new[] { "64 ", "66 ", "69 ", "70 ", "71 ", "76 ", "77 ", "78 ", "127 " })
        {
            Assert.Contains("  " + code, run.StandardOutput, StringComparison.Ordinal);
        }
    }
}
