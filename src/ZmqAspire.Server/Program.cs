using NetMQ;
using ZmqAspire.Server;

var builder = Host.CreateApplicationBuilder(args);
builder.AddServiceDefaults();
builder.Services.Configure<ReplyServerOptions>(builder.Configuration.GetSection(ReplyServerOptions.Section));
builder.Services.AddHostedService<ReplyServer>();
builder.Build().Run();

// NetMQ's I/O threads are background threads: without this, a reply sent just before the stop
// (docker stop's SIGTERM) dies with the process instead of reaching its client (ReplyServer's linger).
NetMQConfig.Cleanup(block: true);
