@part3
Feature: Customising a Promise (workshop Part 3)
  A platform team offers Postgres as a service with the Zalando operator: first through a Promise
  that exposes the operator's whole API, then through a small high-level API whose v0.2.0 pipeline
  turns a t-shirt size into a Zalando cluster, and finally with extra pipeline containers that scan
  the generated manifests and notify the requester.

  Scenarios build on each other in the order of the workshop page, but every Given makes sure its
  preconditions hold, so any scenario can be run alone (-k) on a platform left by an earlier run.

  Background:
    Given a Kratix platform cluster with a worker cluster registered as a destination

  Scenario: Install the Postgres Promise with the full Zalando API
    When the promise "postgres-full" is installed
    Then the promise "postgresql" becomes Available
    And the deployment "postgres-operator" becomes ready on the worker

  Scenario: Request a complex Postgres through the full API
    Given the promise "postgres-full" is installed and Available
    When the platform user requests:
      """yaml
      apiVersion: workshop.kratix.io/v1
      kind: postgresql
      metadata:
        name: example
        namespace: default
      spec:
        dockerImage: ghcr.io/zalando/spilo-15:3.0-p1
        teamId: "acid"
        numberOfInstances: 1
        users:
          zalando: [superuser, createdb]
          foo_user: []
        enableMasterLoadBalancer: false
        enableReplicaLoadBalancer: false
        enableConnectionPooler: false
        enableReplicaConnectionPooler: false
        enableMasterPoolerLoadBalancer: false
        enableReplicaPoolerLoadBalancer: false
        allowedSourceRanges:
          - 127.0.0.1/32
        databases:
          foo: zalando
        preparedDatabases:
          bar:
            defaultUsers: true
            extensions:
              pg_partman: public
              pgcrypto: public
            schemas:
              data: {}
              history:
                defaultRoles: true
                defaultUsers: false
        postgresql:
          version: "15"
          parameters:
            shared_buffers: "32MB"
            max_connections: "10"
            log_statement: "all"
        volume:
          size: 1Gi
        additionalVolumes:
          - name: empty
            mountPath: /opt/empty
            targetContainers: [all]
            volumeSource:
              emptyDir: {}
        enableShmVolume: true
        resources:
          requests: {cpu: 10m, memory: 100Mi}
          limits: {cpu: 500m, memory: 500Mi}
        patroni:
          failsafe_mode: false
          initdb:
            encoding: "UTF8"
            locale: "en_US.UTF-8"
            data-checksums: "true"
          ttl: 30
          loop_wait: 10
          retry_timeout: 10
          synchronous_mode: false
          synchronous_mode_strict: false
          synchronous_node_count: 1
          maximum_lag_on_failover: 33554432
        initContainers:
          - name: date
            image: busybox
            command: ["/bin/date"]
        tls:
          secretName: ""
          certificateFile: "tls.crt"
          privateKeyFile: "tls.key"
          caFile: ""
          caSecretName: ""
      """
    Then the request "example" is reconciled with the message "Resource requested"
    And the Zalando cluster "example" is Running on the worker
    And the pod "example-0" is running and ready on the worker
    And the volume claim "pgdata-example-0" is bound with 1Gi on the worker
    And a 1Gi persistent volume is bound to the claim "pgdata-example-0" on the worker

  Scenario: Switch to a high-level API backed by the v0.2.0 pipeline
    Given the promise "postgres-full" is installed and Available
    When the promise "postgresql" is deleted
    And the promise "promise-clean" is installed
    Then the promise "postgresql" becomes Available
    And its "instance-configure" pipeline runs the image "kratix-workshop/postgresql-configure-pipeline:v0.2.0"
    When the platform user requests:
      """yaml
      apiVersion: workshop.kratix.io/v1
      kind: postgresql
      metadata:
        name: example
        namespace: default
      spec:
        size: small
        dbName: bestdb
        requester: trainer@example.com
      """
    Then the request "example" is reconciled with the message "Resource requested"
    And the Zalando cluster "acid-example-postgresql" is Running on the worker
    And the pod "acid-example-postgresql-0" is running and ready on the worker
    And the volume claim "pgdata-acid-example-postgresql-0" is bound with 1Gi on the worker

  Scenario Outline: The high-level API turns a t-shirt size into a Zalando cluster
    Given the promise "promise-clean" is installed and Available
    When the platform user requests a fresh:
      """yaml
      apiVersion: workshop.kratix.io/v1
      kind: postgresql
      metadata:
        name: sizes
        namespace: default
      spec:
        size: <size>
        dbName: bestdb
        requester: trainer@example.com
      """
    Then the request "sizes" is reconciled with the message "Resource requested"
    And the Zalando cluster "acid-sizes-postgresql" is Running on the worker with <instances> instances
    And every volume claim of the Zalando cluster "acid-sizes-postgresql" is bound with <volume>
    When the platform user deletes the request "sizes" of the promise "postgresql"
    Then the Zalando cluster "acid-sizes-postgresql" and its pods and volume claims are gone from the worker

    Examples:
      | size   | instances | volume |
      | small  | 1         | 1Gi    |
      | medium | 3         | 5Gi    |
      | large  | 5         | 10Gi   |

  Scenario Outline: The high-level API refuses requests it cannot fulfil
    Given the promise "promise-clean" is installed and Available
    When the platform user submits:
      """yaml
      apiVersion: workshop.kratix.io/v1
      kind: postgresql
      metadata:
        name: refused
        namespace: default
      spec:
        <spec>
      """
    Then the platform refuses it, naming the field "<field>" and saying "<message>"
    And no request "refused" exists on the platform

    Examples:
      | case            | spec                                          | field          | message                |
      | unknown size    | {size: tiny, dbName: bestdb, requester: me}   | spec.size      | should match           |
      | no requester    | {size: small, dbName: bestdb}                 | spec.requester | Required value         |
      | full API fields | {teamId: acid, numberOfInstances: 1}          | spec.teamId    | unknown field          |

  Scenario: Extend the pipeline with a security scanner and an external notifier
    Given the promise "promise-clean" is installed and Available
    When its "instance-configure" pipeline gains the containers:
      """yaml
      - name: security-scanner
        image: kratix-workshop/security-scanner:v0.1.0
      - name: external-notifier
        image: kratix-workshop/external-notifier:v0.1.0
        env:
          # Optional: without the Secret the notifier says it skipped and exits 0.
          - name: NOTIFIER_WEBHOOK_URL
            valueFrom:
              secretKeyRef: {name: external-notifier, key: webhook-url, optional: true}
      """
    And the edited promise is reinstalled
    And the platform user requests:
      """yaml
      apiVersion: workshop.kratix.io/v1
      kind: postgresql
      metadata:
        name: example
        namespace: default
      spec:
        size: small
        dbName: bestdb
        requester: trainer@example.com
      """
    Then the request "example" is reconciled with the message "Resource requested"
    And the pipeline pod of request "example" completed its containers in order:
      | container                     |
      | reader                        |
      | postgresql-configure-pipeline |
      | security-scanner              |
      | external-notifier             |
      | work-writer                   |
    And the "security-scanner" log lists every image in the pipeline output and a summary line
    And the "external-notifier" log says whether the requester was notified
    And the request "example" reports its vulnerability scan in its status

  Scenario: Clean up
    When every promise is deleted from the platform
    Then no promise is left on the platform
    And nothing of the postgresql promise is left on the platform
