"""The private throwaway RabbitMQ nodes kl1..kl3 and the tests of the cluster."""
