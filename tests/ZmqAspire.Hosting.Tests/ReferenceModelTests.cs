namespace ZmqAspire.Hosting.Tests;

/// <summary>
/// The dev-tunnels grammar, <c>worker.WithReference(server, bastion)</c>: the same model as
/// <c>worker.WithSshTunnel(bastion, server.GetEndpoint(...))</c>.
/// </summary>
public sealed class ReferenceModelTests
{
    [Fact]
    public async Task Referencing_a_server_through_the_bastion_permits_it_and_hands_the_consumer_its_connection_string()
    {
        using var model = new ModelBuilder();
        var bastion = model.AddBastion();
        var server = model.Builder.AddContainer("server", "debian", "bookworm-slim").WithEndpoint(targetPort: 5556, name: "zmq", isExternal: false);
        var worker = model.Builder.AddExecutable("worker", "true", ".");

        worker.WithReference(server, bastion);
        ModelBuilder.Allocate(bastion.Resource, "ssh", 2222);

        var env = await ModelBuilder.EnvironmentAsync(worker.Resource);
        var keys = SshKeyMaterial.EnsureCreated(model.KeyDirectory);
        Assert.Equal(
            $"SshServer=tunnel@localhost:2222;HostKeyFingerprint={keys.HostKeyFingerprint};RemoteEndpoint=tcp://server:5556;PrivateKeyPath={keys.ClientPrivateKeyPath}",
            env["ConnectionStrings__server"]);
        Assert.Equal("PermitOpen server:5556\n", await SshBastionFiles.DeploymentConfigAsync(bastion.Resource, CancellationToken.None));
        Assert.Contains(worker.Resource.Annotations.OfType<WaitAnnotation>(), w => w.Resource == bastion.Resource);
    }

    [Fact]
    public void A_server_with_several_endpoints_must_be_referenced_by_the_endpoint_to_reach()
    {
        using var model = new ModelBuilder();
        var bastion = model.AddBastion();
        var server = model.Builder.AddContainer("server", "debian", "bookworm-slim")
            .WithEndpoint(targetPort: 5556, name: "zmq", isExternal: false)
            .WithEndpoint(targetPort: 9090, name: "metrics", isExternal: false);
        var worker = model.Builder.AddExecutable("worker", "true", ".");

        var error = Assert.Throws<InvalidOperationException>(() => worker.WithReference(server, bastion));

        Assert.Contains("several endpoints (zmq, metrics)", error.Message, StringComparison.Ordinal);
        Assert.Contains("GetEndpoint(\"zmq\")", error.Message, StringComparison.Ordinal);
        worker.WithReference(server.GetEndpoint("metrics"), bastion);
        Assert.Contains(worker.Resource.Annotations.OfType<WaitAnnotation>(), w => w.Resource == bastion.Resource);
    }
}
