namespace ZmqAspire.AppHost;

/// <summary>
/// The PUB/SUB and PUSH/PULL demo (setting <c>ZmqAspire:PatternDemos</c>; docs/patterns.md): the
/// sockets that bind (publisher, puller) run in containers behind the bastion, where the data
/// lives; the sockets that connect (subscriber, pusher) run on the host and reach them through
/// their own SSH local forward, as the REQ client reaches the server.
/// </summary>
internal static class PatternDemos
{
    public static void AddPatternDemos(this IDistributedApplicationBuilder builder, IResourceBuilder<SshBastionResource> bastion, string repoRoot)
    {
        var context = Path.Combine(repoRoot, "artifacts", "patterndemo-image");
        var dockerfile = Path.Combine(repoRoot, "src", "ZmqAspire.PatternDemo", "Dockerfile");

        var publisher = builder.AddZmqContainer("publisher", context, dockerfile, port: 5557)
            .WithEnvironment("Demo__Mode", "Publisher")
            .WithEnvironment("Demo__Port", "5557")
            .WithIconName("Broadcast");
        builder.AddProject<Projects.ZmqAspire_PatternDemo>("subscriber", launchProfileName: null)
            .WithEnvironment("Demo__Mode", "Subscriber")
            .WithZmqServerTunnel(bastion, [publisher], connectionName: "server")
            .WithIconName("Rss");

        var puller = builder.AddZmqContainer("puller", context, dockerfile, port: 5558)
            .WithEnvironment("Demo__Mode", "Puller")
            .WithEnvironment("Demo__Port", "5558")
            .WithIconName("ArrowDownload");
        builder.AddProject<Projects.ZmqAspire_PatternDemo>("pusher", launchProfileName: null)
            .WithEnvironment("Demo__Mode", "Pusher")
            .WithZmqServerTunnel(bastion, [puller], connectionName: "server")
            .WithIconName("ArrowUpload");
    }
}
