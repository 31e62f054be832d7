namespace ZmqAspire.Deployment.Tests;

/// <summary>
/// The seed's own client, pyzmq with <c>zmq.ssh.tunnel_connection</c>, through OUR bastion to
/// OUR NetMQ server, in both of pyzmq's tunnel modes, with the bastion's host key checked.
/// </summary>
[Collection(InteropCollection.Name)]
public sealed class PyzmqClientTests(InteropFixture fixture, ITestOutputHelper output)
{
    private const string Target = "tcp://server:5556"; // PermitOpen must match this literally

    [Fact]
    public async Task Pyzmq_paramiko_tunnel_gets_the_servers_replies()
    {
        using var home = new ClientHome(fixture.Project, trustedHostKey: fixture.Project.HostPublicKey);
        var result = await RunSeedClientAsync("paramiko", home);
        AssertReplies(result, "World from 5556");
    }

    [Fact]
    public async Task Pyzmq_openssh_tunnel_gets_the_servers_replies()
    {
        using var home = new ClientHome(fixture.Project, trustedHostKey: fixture.Project.HostPublicKey);
        var result = await RunSeedClientAsync("openssh", home);
        AssertReplies(result, "World from 5556");
    }

    [Theory]
    [InlineData("paramiko", false, "not found in known_hosts")]
    [InlineData("paramiko", true, "does not match")]
    [InlineData("openssh", false, null)]
    [InlineData("openssh", true, null)]
    public async Task Pyzmq_refuses_a_bastion_whose_host_key_it_does_not_know(string mode, bool otherKeyKnown, string? expected)
    {
        // known_hosts lacks the bastion, or names it with some other key: both modes must refuse
        // and never prompt (stdin is closed; a prompt would hang until the timeout). In OpenSSH
        // mode pyzmq may miss ssh's exit status (it reads it before pexpect has reaped ssh) and
        // go on to a tunnel that is not there, so only "no reply, failure" is certain there.
        var otherKey = otherKeyKnown ? File.ReadAllText(Path.Combine(fixture.Project.KeyDirectory, "client_ed25519_key.pub")).Trim() : null;
        using var home = new ClientHome(fixture.Project, trustedHostKey: otherKey);
        var result = await RunSeedClientAsync(mode, home);
        Assert.NotEqual(0, result.ExitCode);
        Assert.DoesNotContain("Received reply", result.Output, StringComparison.Ordinal);
        if (expected is not null)
        {
            Assert.Contains(expected, result.Output, StringComparison.Ordinal);
        }
    }

    private async Task<CliResult> RunSeedClientAsync(string mode, ClientHome home)
    {
        var result = await Cli.RunAsync(
            "/usr/bin/python3",
            [Path.Combine(Repo.InteropDirectory, "seed_client.py"), mode, $"tunnel@127.0.0.1:{fixture.Project.SshPort}", Target, home.KeyFile, "3"],
            home.Environment,
            TimeSpan.FromSeconds(90));
        output.WriteLine(result.Output);
        return result;
    }

    private static void AssertReplies(CliResult result, string reply)
    {
        Assert.True(result.ExitCode == 0, result.Output);
        for (var n = 0; n < 3; n++)
        {
            Assert.Contains($"Received reply {n} [ {reply} ]", result.StandardOutput, StringComparison.Ordinal);
        }
    }
}
