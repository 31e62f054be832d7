using ZmqAspire.PatternDemo;

var builder = Host.CreateApplicationBuilder(args);
builder.AddServiceDefaults();
builder.Services.AddOptions<DemoOptions>().BindConfiguration(DemoOptions.Section);
// A connecting peer (subscriber, pusher) reaches its target through the SSH tunnel when the
// AppHost (WithZmqServerTunnel) set ConnectionStrings:server; else it connects to Demo:Connect.
if (builder.Configuration.GetConnectionString(DemoOptions.TunnelName) is not null
    && builder.Configuration.GetSection(DemoOptions.Section).Get<DemoOptions>() is { Mode: DemoMode.Subscriber or DemoMode.Pusher })
{
    builder.AddSshTunnel(DemoOptions.TunnelName);
}

builder.Services.AddHostedService<DemoPeer>();
builder.Build().Run();
